package io.factoryrunner.api;

/** An answer of the operator API other than success: its HTTP status, what went wrong, and optional detail. */
public final class ApiError extends RuntimeException {

    private final int status;
    private final transient Object detail;

    public ApiError(int status, String message) {
        this(status, message, null);
    }

    public ApiError(int status, String message, Object detail) {
        super(message, null, false, false);
        this.status = status;
        this.detail = detail;
    }

    public int status() {
        return status;
    }

    public Object detail() {
        return detail;
    }

    public static ApiError badRequest(String message) {
        return new ApiError(400, message);
    }

    public static ApiError notFound(String message) {
        return new ApiError(404, message);
    }

    public static ApiError conflict(String message, Object detail) {
        return new ApiError(409, message, detail);
    }
}
