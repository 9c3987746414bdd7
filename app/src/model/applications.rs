//! Applications behind the gate, and where a return address (`rd`) leads.

use serde::{Deserialize, Serialize};

/// Where a return address (`rd`) leads, when Latchkey may send a browser there.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnAddress {
    /// The address, normalised; `None` when it is not one Latchkey sends browsers to.
    pub url: Option<String>,
    /// The application it is inside, by name.
    pub application: Option<String>,
}

/// An application behind the gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationInfo {
    pub id: i64,
    pub name: String,
    /// Its base URL: every URL that starts with it (at a path boundary) is inside it.
    pub url: String,
}
