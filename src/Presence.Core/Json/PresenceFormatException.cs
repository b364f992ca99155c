namespace Presence;

/// <summary>
/// A Matrix JSON document that cannot be read: malformed, wrong types, unknown values, or over a limit. The message says what
/// and where. Its <see cref="PresenceException.ErrorCode"/> is <see cref="PresenceErrorCodes.BadJson"/> (HTTP 400).
/// </summary>
public sealed class PresenceFormatException : PresenceException
{
    /// <summary>Creates the exception.</summary>
    public PresenceFormatException()
        : base(PresenceErrorCodes.BadJson, "The JSON document cannot be read.")
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong.</param>
    public PresenceFormatException(string message)
        : base(PresenceErrorCodes.BadJson, message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong.</param>
    /// <param name="innerException">The parser's error.</param>
    public PresenceFormatException(string message, Exception innerException)
        : base(PresenceErrorCodes.BadJson, message, innerException)
    {
    }
}
