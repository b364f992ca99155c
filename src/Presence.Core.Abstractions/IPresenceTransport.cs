namespace Presence;

/// <summary>
/// How presence messages reach other servers; the host implements it (Matrix federation transactions, for
/// example). The engine never calls it while holding its locks, and never for a device signal (heartbeats, status
/// changes are batched and sent by its timer); an immediate answer (to a poll, a presence-list change) may be sent on
/// the thread of the call that caused it. At most one send is in flight per destination. A send that throws is retried with backoff; meanwhile newer states
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
