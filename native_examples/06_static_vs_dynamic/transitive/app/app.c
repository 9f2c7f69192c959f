#include <stdio.h>

char *fw_greeting(void);
void fw_release(char *s);

int main(void)
{
    char *s = fw_greeting();
    puts(s ? s : "(null)");
    fw_release(s);
    return 0;
}
