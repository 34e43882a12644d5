"""Everything people see: screens, texts and buttons, by audience.

Handlers call use cases (services/) and render the result with these; the outbox's renderer
(bot/notices.py) renders notices with them. Views read services' result types and never call a use case.
"""
