"""Who is calling and what they may do: principals, passwords, accounts, sessions, login
throttling, the lesson permission policy, and the audit log."""
