"""The portal's web app (Flask): the app factory, its security, and one module per flow."""
