//! Admin standing. A superadmin (the setup link's admin, or the first admin made on the
//! command line) alone grants or removes admin rights and acts on other admins' accounts;
//! an admin acts on user accounts only. The operator at the host's command line stands above
//! everyone: whoever holds the database needs no permission.

use std::fmt;

#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Admin,
    Superadmin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::User, Role::Admin, Role::Superadmin];

    pub fn of(is_admin: bool, is_superadmin: bool) -> Self {
        match (is_admin, is_superadmin) {
            (_, true) => Self::Superadmin,
            (true, false) => Self::Admin,
            (false, false) => Self::User,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Admin => "admin",
            Self::Superadmin => "superadmin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == text)
    }

    pub fn is_admin(self) -> bool {
        self >= Self::Admin
    }

    /// Whether someone of this standing may act on an account of `subject`'s standing: on
    /// lower standing only, and a superadmin on anyone.
    pub fn may_act_on(self, subject: Role) -> bool {
        self == Self::Superadmin || self > subject
    }

    /// Whether someone of this standing may grant or remove admin rights.
    pub fn may_change_roles(self) -> bool {
        self == Self::Superadmin
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Role::*;

    #[test]
    fn standing_decides_who_acts_on_whom() {
        assert!(Admin.may_act_on(User));
        assert!(!Admin.may_act_on(Admin));
        assert!(!Admin.may_act_on(Superadmin));
        assert!(Superadmin.may_act_on(Superadmin));
        assert!(!User.may_act_on(User));
        assert!(Superadmin.may_change_roles() && !Admin.may_change_roles());
    }
}
