//! Namespace kinds, clone flags, join-by-path ordering, uid/gid maps.
//! OWNER: lead.
