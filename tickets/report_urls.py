"""/agent/reports/…: supervisors' figures, CSV exports and audit log."""

from django.urls import path

from tickets import report_views

app_name = "reports"

urlpatterns = [
    path("figures/", report_views.figures_page, name="figures"),
    path("figures.csv", report_views.figures_csv, name="figures_csv"),
    path("tickets.csv", report_views.tickets_csv, name="tickets_csv"),
    path("audit/", report_views.audit_log, name="audit"),
]
