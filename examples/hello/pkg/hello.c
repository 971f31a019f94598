#include <stdio.h>

int main(void)
{
	puts("Hello from a boulder-built package!");
	return 0;
}
