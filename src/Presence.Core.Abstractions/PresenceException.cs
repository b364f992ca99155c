namespace Presence;

/// <summary>
/// A refusal the host can map to a Matrix error response: <see cref="ErrorCode"/> is the <c>errcode</c> (one of
/// <see cref="PresenceErrorCodes"/>) and <see cref="Exception.Message"/> is safe to show to the client.
/// </summary>
public class PresenceException : Exception
{
    /// <summary>Creates the exception with <see cref="PresenceErrorCodes.Unknown"/>.</summary>
    public PresenceException()
        : this(PresenceErrorCodes.Unknown, "The presence request failed.")
    {
    }

    /// <summary>Creates the exception with <see cref="PresenceErrorCodes.Unknown"/>.</summary>
    /// <param name="message">What went wrong, safe to show to the client.</param>
    public PresenceException(string message)
        : this(PresenceErrorCodes.Unknown, message)
    {
    }

    /// <summary>Creates the exception with <see cref="PresenceErrorCodes.Unknown"/>.</summary>
    /// <param name="message">What went wrong, safe to show to the client.</param>
    /// <param name="innerException">The cause.</param>
    public PresenceException(string message, Exception? innerException)
        : this(PresenceErrorCodes.Unknown, message, innerException)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="errorCode">The Matrix <c>errcode</c>, for example <see cref="PresenceErrorCodes.Forbidden"/>.</param>
    /// <param name="message">What went wrong, safe to show to the client.</param>
    /// <param name="innerException">The cause, if any.</param>
    public PresenceException(string errorCode, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        ArgumentException.ThrowIfNullOrEmpty(errorCode);
        ErrorCode = errorCode;
    }

    /// <summary>Gets the Matrix <c>errcode</c> (one of <see cref="PresenceErrorCodes"/>).</summary>
    public string ErrorCode { get; }

    /// <summary>Gets how long the client should wait before retrying, for <see cref="PresenceErrorCodes.LimitExceeded"/>.</summary>
    public TimeSpan? RetryAfter { get; init; }

    /// <summary>Gets the HTTP status a Matrix server answers this error with (403, 404, 400, 429, or 500).</summary>
    public int HttpStatus => PresenceErrorCodes.HttpStatusOf(ErrorCode);
}

/// <summary>The Matrix error codes presence refusals use.</summary>
public static class PresenceErrorCodes
{
    /// <summary>The requester may not do this (set another user's presence, read a hidden user, act for another server's user). HTTP 403.</summary>
    public const string Forbidden = "M_FORBIDDEN";

    /// <summary>No such user or request. HTTP 404.</summary>
    public const string NotFound = "M_NOT_FOUND";

    /// <summary>A parameter is out of range (an unknown or disabled state, a status message over the limit, a bad device ID). HTTP 400.</summary>
    public const string InvalidParam = "M_INVALID_PARAM";

    /// <summary>The body is not valid JSON of the expected shape. HTTP 400.</summary>
    public const string BadJson = "M_BAD_JSON";

    /// <summary>Too many requests. HTTP 429, with <c>retry_after_ms</c>.</summary>
    public const string LimitExceeded = "M_LIMIT_EXCEEDED";

    /// <summary>Anything else (the engine is not started or is shutting down, a list limit, the store failed). HTTP 500.</summary>
    public const string Unknown = "M_UNKNOWN";

    /// <summary>Gets the HTTP status a Matrix server answers an error code with.</summary>
    /// <param name="errorCode">The <c>errcode</c>.</param>
    /// <returns>403, 404, 400, 429, or 500 for anything else.</returns>
    public static int HttpStatusOf(string errorCode) => errorCode switch
    {
        Forbidden => 403,
        NotFound => 404,
        InvalidParam or BadJson => 400,
        LimitExceeded => 429,
        _ => 500,
    };
}
