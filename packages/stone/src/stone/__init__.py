"""Read and write the AerynOS `.stone` container."""
