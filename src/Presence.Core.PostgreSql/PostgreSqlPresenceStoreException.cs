namespace Presence;

/// <summary>A PostgreSQL presence store operation failed; the message names the store and the operation.</summary>
public sealed class PostgreSqlPresenceStoreException : Exception
{
    /// <summary>Creates an exception.</summary>
    public PostgreSqlPresenceStoreException()
        : this("The PostgreSQL presence store failed.")
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What failed.</param>
    public PostgreSqlPresenceStoreException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and its cause.</summary>
    /// <param name="message">What failed.</param>
    /// <param name="innerException">The cause.</param>
    public PostgreSqlPresenceStoreException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    internal PostgreSqlPresenceStoreException(string message, Exception? innerException, bool isTransient)
        : base(message, innerException)
    {
        IsTransient = isTransient;
    }

    /// <summary>Gets a value indicating whether the failure may pass by itself (the database unreachable, a timeout); retrying later may succeed.</summary>
    public bool IsTransient { get; }
}
