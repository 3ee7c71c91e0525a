"""Local stand-ins for the outside services alerting talks to, on 127.0.0.1: an HTTP receiver that checks
Slack, Teams, PagerDuty and webhook payloads, and an SMTP server with STARTTLS."""
