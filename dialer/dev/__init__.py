"""Development only: the demo call centre, test and benchmark support, the fake LeadVertex CRM, and the
Asterisk sandbox with its pbx and sim instances. Production code never imports this package
(tests/unit/test_imports.py checks it); its commands are `dialer-dev …`."""
