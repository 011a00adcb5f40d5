fn main() { println!("sample-service listening on :8080"); }
