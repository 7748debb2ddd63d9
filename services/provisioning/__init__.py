"""provisioning: tenants (Mandanten), their administrators and users, and the authentication API."""
