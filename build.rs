// embed_migrations! reads migrations/ at compile time; without this, a migration added
// after the last build would be silently missing from the binary.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
