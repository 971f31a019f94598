#include <stdio.h>
#include <greet.h>

int main(int argc, char **argv)
{
	puts(greet_message(argc > 1 ? argv[1] : "newcomer"));
	return 0;
}
