// main.cpp - uses both translation units.
int *make_a();
int *make_b();
int main() { delete make_a(); delete make_b(); return 0; }
