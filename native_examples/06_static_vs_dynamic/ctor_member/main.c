void lib_hello(void);

int main(void)
{
    lib_hello();
    return 0;
}
