//! The NHSmal Authenticator companion app. Push approval arrives with the MFA-methods work;
//! until then the binary only says what it is.
fn main() {
    println!("NHSmal Authenticator: push approval is not available yet.");
}
