// Notification bell: filled by the notifications issue.
