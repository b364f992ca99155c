using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace Presence;

/// <summary>Matrix error responses (<c>{"errcode", "error"}</c>) for endpoint handlers, the presence endpoints' and the host's own.</summary>
public static class MatrixResults
{
    /// <summary>The error code of a request for an endpoint the server does not know.</summary>
    public const string Unrecognized = "M_UNRECOGNIZED";

    /// <summary>The error code of a body over the limit.</summary>
    public const string TooLarge = "M_TOO_LARGE";

    /// <summary>An error response.</summary>
    /// <param name="statusCode">The HTTP status.</param>
    /// <param name="errcode">The Matrix <c>errcode</c>, for example <c>M_FORBIDDEN</c>.</param>
    /// <param name="message">What went wrong, shown to the client.</param>
    /// <returns>The result.</returns>
    public static IResult Error(int statusCode, string errcode, string message) =>
        Results.Text(MatrixPresenceCodec.WriteError(errcode, message), "application/json", statusCode: statusCode);

    /// <summary>The response for a refusal from the engine: its <see cref="PresenceException.HttpStatus"/> and error code, and <c>retry_after_ms</c> (rounded up) for 429.</summary>
    /// <param name="exception">The refusal.</param>
    /// <returns>The result.</returns>
    public static IResult FromException(PresenceException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return exception.ErrorCode == PresenceErrorCodes.LimitExceeded
            ? RateLimited(exception.RetryAfter ?? TimeSpan.Zero, exception.Message)
            : Error(exception.HttpStatus, exception.ErrorCode, exception.Message);
    }

    /// <summary>429 <c>M_LIMIT_EXCEEDED</c> with <c>retry_after_ms</c>, rounded up so a client that waits that long is not refused again.</summary>
    /// <param name="retryAfter">How long the client should wait; negative counts as zero.</param>
    /// <param name="message">What the client is told.</param>
    /// <returns>The result.</returns>
    public static IResult RateLimited(TimeSpan retryAfter, string message = "Too many requests.") =>
        Results.Text(MatrixPresenceCodec.WriteRateLimited(message, retryAfter < TimeSpan.Zero ? TimeSpan.Zero : retryAfter), "application/json", statusCode: StatusCodes.Status429TooManyRequests);

    /// <summary>404 <c>M_UNRECOGNIZED</c>: what a Matrix server answers for an endpoint it does not implement.</summary>
    /// <returns>The result.</returns>
    public static IResult UnrecognizedEndpoint() => Error(StatusCodes.Status404NotFound, Unrecognized, "Unrecognized request");

    /// <summary>413 <c>M_TOO_LARGE</c>: the body is over the limit.</summary>
    /// <param name="maxBytes">The limit, in bytes.</param>
    /// <returns>The result.</returns>
    public static IResult BodyTooLarge(int maxBytes) =>
        Error(StatusCodes.Status413PayloadTooLarge, TooLarge, string.Create(CultureInfo.InvariantCulture, $"The body is over {maxBytes} bytes."));
}
