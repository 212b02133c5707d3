/* ccrun-init: placeholder, replaced by the container set-up helper. */
int main(void) { return 0; }
