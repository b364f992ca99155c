namespace Presence;

/// <summary>
/// What presence this server owes other servers, for a host whose federation sender keeps its own per-destination
/// queue (Matrix sends one transaction at a time per destination, carrying room events and EDUs together). When the
/// host builds a transaction for a destination it calls <see cref="TryTake"/> and adds the presence EDUs to it, so
/// presence rides traffic that goes there anyway. When an entry's deadline (prompt or lazy) passes and nothing took it,
/// the engine sends it itself through <see cref="IPresenceTransport.SendAsync"/>: that call is the host's signal to make a
/// presence-only transaction. A host without a queue never calls <see cref="TryTake"/> and sees no difference.
/// </summary>
public interface IPresenceOutbox
{
    /// <summary>
    /// Takes everything owed to <paramref name="destination"/> now (whatever its deadline), for the transaction the host
    /// is building for it. The host must end the batch: <see cref="PresenceOutboxBatch.Complete"/> when the destination
    /// accepted the transaction, <see cref="PresenceOutboxBatch.Fail"/> (or dispose it) when it did not — then the presence
    /// is owed again, newer states replacing older ones. A batch not ended within the send timeout counts as failed.
    /// Cheap when nothing is owed; never blocks on I/O.
    /// </summary>
    /// <param name="destination">The server the transaction goes to.</param>
    /// <returns>The batch, or <see langword="null"/> when nothing is owed or a send to the destination is in flight (one at a time).</returns>
    PresenceOutboxBatch? TryTake(ServerName destination);
}

/// <summary>
/// Presence taken for one transaction to one destination (see <see cref="IPresenceOutbox.TryTake"/>): the messages to
/// write as EDUs (<c>MatrixPresenceCodec.WriteEdus</c>), and the outcome the host reports once. Disposing a batch that was
/// neither completed nor failed fails it, so nothing is lost when the host's send throws.
/// </summary>
public abstract class PresenceOutboxBatch : IDisposable
{
    private int _ended;

    /// <summary>Creates a batch.</summary>
    /// <param name="destination">The server the presence is for.</param>
    /// <param name="messages">The messages, each within the receiver's per-message limits.</param>
    protected PresenceOutboxBatch(ServerName destination, IReadOnlyList<PresenceMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        Destination = destination;
        Messages = messages;
    }

    /// <summary>Gets the server the presence is for.</summary>
    public ServerName Destination { get; }

    /// <summary>Gets the messages; add the EDUs of each to the transaction (a message is at most one <c>m.presence</c> EDU and 49 presence-list EDUs).</summary>
    public IReadOnlyList<PresenceMessage> Messages { get; }

    /// <summary>Gets a value indicating whether the outcome was reported.</summary>
    public bool IsEnded => Volatile.Read(ref _ended) != 0;

    /// <summary>The destination accepted the transaction. Later calls do nothing.</summary>
    public void Complete()
    {
        if (Interlocked.Exchange(ref _ended, 1) == 0)
        {
            CompleteCore();
        }
    }

    /// <summary>The transaction did not reach the destination: the presence is owed again and retried. Later calls do nothing.</summary>
    public void Fail()
    {
        if (Interlocked.Exchange(ref _ended, 1) == 0)
        {
            FailCore();
        }
    }

    /// <summary>Fails the batch unless its outcome was reported.</summary>
    public void Dispose()
    {
        Fail();
        GC.SuppressFinalize(this);
    }

    /// <summary>Records that the destination accepted the batch; called once.</summary>
    protected abstract void CompleteCore();

    /// <summary>Records that the batch did not arrive; called once.</summary>
    protected abstract void FailCore();
}
