"""Running graphs: from a request to a closed program (`program`), the backend
registry (`backends`), the reference interpreter, tiered execution,
all-or-nothing updates (`transaction`), `Session`, `sg.function`, and the
BLAS libraries NumPy and the compiled code call (`blas_libraries`)."""
