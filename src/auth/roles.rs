//! Roles as types for handlers (`Auth<Admin>`); the roles themselves are `domain::Role`.

pub use crate::domain::Role;

/// The least role a route needs, as a type: `Auth<Member>` in a handler's arguments is the
/// route's role check.
pub trait MinRole {
    const ROLE: Role;
}

/// Read access: every authenticated principal.
pub struct Viewer;
/// Write customers, interactions, deals; run reports.
pub struct Member;
/// Manage channels, pipelines, reports, users below owner, API tokens.
pub struct Admin;
/// Everything, including the workspace itself.
pub struct Owner;

impl MinRole for Viewer {
    const ROLE: Role = Role::Viewer;
}
impl MinRole for Member {
    const ROLE: Role = Role::Member;
}
impl MinRole for Admin {
    const ROLE: Role = Role::Admin;
}
impl MinRole for Owner {
    const ROLE: Role = Role::Owner;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Viewer < Role::Member && Role::Member < Role::Admin && Role::Admin < Role::Owner);
        for r in [Role::Viewer, Role::Member, Role::Admin, Role::Owner] {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert!("root".parse::<Role>().is_err());
    }
}
