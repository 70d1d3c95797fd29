//! # frocket-dataset
//!
//! Everything about a dataset except running queries on it: listing its parts, inspecting and
//! validating parts at registration, the short and full schema, and where registered datasets
//! are kept ([`Catalog`]; [`FileCatalog`] is the embedded, file-backed one).

pub mod catalog;
pub mod info;
pub mod inspect;
pub mod name;
pub mod register;

pub use catalog::{Catalog, CatalogError, FileCatalog};
pub use info::{ColumnDetails, DatasetInfo, FullSchema, PartRef, ShortSchema};
pub use inspect::{inspect_part, inspect_part_as, GroupIds, InspectSpec, InspectedColumn, PartInspection, StringStats};
pub use name::{check_dataset_name, InvalidName, MAX_NAME_LEN};
pub use register::{
    basepath_allowed, check_request, finish_registration, inspect_parts, inspect_spec, new_registration_id,
    plan_sample, register, RegisterError, RegisterOptions, RegisterRequest, ValidationMode,
};
