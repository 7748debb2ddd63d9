"""mail_dispatch: S/MIME mail and password letters to authorities."""
