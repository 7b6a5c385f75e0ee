//! Delivering test messages straight into a user's Maildir.

use super::util::random_hex;
use super::{Dovecot, MAIL_UID};

impl Dovecot {
    /// Puts a message into `user`'s INBOX (a new Maildir file, as a delivery agent would), so
    /// a SELECT counts it. `user` as Dovecot names the account after login (the Mailkeys
    /// passdbs return the lower-case address).
    pub fn deliver(&self, user: &str, message: &str) {
        use std::sync::atomic::{AtomicU32, Ordering};
        static SEQ: AtomicU32 = AtomicU32::new(0);
        assert!(
            !user.contains('/') && !user.starts_with('.'),
            "not a user name: {user}"
        );
        let home = self.dir.path().join("home").join(user);
        let maildir = home.join("Maildir");
        for dir in [
            home.clone(),
            maildir.clone(),
            maildir.join("cur"),
            maildir.join("new"),
            maildir.join("tmp"),
        ] {
            if !dir.exists() {
                std::fs::create_dir(&dir).unwrap();
                std::os::unix::fs::chown(&dir, Some(MAIL_UID), Some(MAIL_UID)).unwrap();
            }
        }
        let name = format!(
            "{}.M{}P{}Q{}.mailkeys-test",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
            random_hex(4),
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let tmp = maildir.join("tmp").join(&name);
        std::fs::write(&tmp, message.replace('\n', "\r\n")).unwrap();
        std::os::unix::fs::chown(&tmp, Some(MAIL_UID), Some(MAIL_UID)).unwrap();
        std::fs::rename(&tmp, maildir.join("new").join(&name)).unwrap();
    }
}
