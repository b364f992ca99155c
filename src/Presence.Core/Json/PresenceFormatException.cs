namespace Presence;

/// <summary>A Matrix JSON document that cannot be read: malformed, wrong types, unknown values, or over a limit. The message says what and where.</summary>
public sealed class PresenceFormatException : FormatException
{
    /// <summary>Creates the exception.</summary>
    public PresenceFormatException()
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong.</param>
    public PresenceFormatException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong.</param>
    /// <param name="innerException">The parser's error.</param>
    public PresenceFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
