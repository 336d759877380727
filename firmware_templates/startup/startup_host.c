/* Host board: the firmware runs as a normal process; nothing to start. */
