//! Programs that must not compile, each with the error a user sees (`tests/ui/*.stderr`):
//! a network with a layer that has no int8 form asks for its int8 type.

#[test]
fn a_network_without_an_int8_form_does_not_compile() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
