//! Talking to Dovecot: the doveadm HTTP API (flush the auth cache, kick live sessions) so
//! revocations take effect at once, and the auth-policy listener that records last use.

pub mod doveadm;
pub mod policy;
