"""Events a merchant announces (launch, e-mail blast, sale) and the capacity planned for them."""
