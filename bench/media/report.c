/* The report: placeholder until step 4. */
#include "emu.h"

int mb_report_main(int argc, char **argv) { return 2; }
