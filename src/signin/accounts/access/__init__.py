"""Who may sign up and who may pass the gate (SPEC section 12): rules, invites, groups."""
