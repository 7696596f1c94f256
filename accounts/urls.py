from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import locale_views, views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("profile/", views.profile, name="profile"),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("profile/sessions/end-others/", views.end_other_sessions, name="end_other_sessions"),
    path("profile/sessions/end-all/", views.end_all_sessions, name="end_all_sessions"),
    path("password/reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("password/reset/done/", views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("password/reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("password/reset/complete/", views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("profile/locale/", locale_views.save_locale, name="save_locale"),
    path("profile/time-zone-guess/", locale_views.guess_time_zone, name="guess_time_zone"),
]
