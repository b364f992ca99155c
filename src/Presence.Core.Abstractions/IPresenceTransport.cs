namespace Presence;

/// <summary>
/// How presence messages reach other servers; the host implements it (Matrix federation transactions, for
/// example). The engine calls it from its own background work, never from a caller's path, with at most one
/// send in flight per destination. A send that throws is retried with backoff; meanwhile newer states
/// replace older ones, so nothing that matters is lost.
/// </summary>
public interface IPresenceTransport
{
    /// <summary>Sends one message to one server.</summary>
    /// <param name="destination">The receiving server.</param>
    /// <param name="message">The message.</param>
    /// <param name="cancellationToken">Cancels the send (engine shutdown).</param>
    /// <returns>A task that completes when the destination has accepted the message.</returns>
    ValueTask SendAsync(ServerName destination, PresenceMessage message, CancellationToken cancellationToken);
}
