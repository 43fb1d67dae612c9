"""pytest plugin (entry point `smtpdiag`): fixtures giving tests a running `smtpdiag serve`."""
