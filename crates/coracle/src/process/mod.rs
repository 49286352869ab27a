//! Spawning the container init: clone3, the parent<->init sync protocol, the init sequence.
//! OWNER: lead.
