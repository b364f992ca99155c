using System.Collections.Concurrent;

namespace Presence;

/// <summary>
/// Connects several engines in one process: each server's transport delivers straight into the destination
/// engine's <see cref="IPresenceEngine.ReceiveAsync"/>. Switches per destination drop messages (lost without
/// error), fail them (the send throws, so the sender retries) or delay them. Counts what each server sent. For
/// tests, the demo and single-process deployments. Thread-safe.
/// </summary>
public sealed class InMemoryPresenceNetwork
{
    private readonly ConcurrentDictionary<ServerName, IPresenceEngine> _engines = new();
    private readonly ConcurrentDictionary<ServerName, Link> _links = new();
    private readonly ConcurrentDictionary<(ServerName From, ServerName To), Counts> _sent = new();
    private readonly TimeProvider _time;

    /// <summary>Creates a network.</summary>
    /// <param name="timeProvider">The clock that delays run on; <see cref="TimeProvider.System"/> when <see langword="null"/>.</param>
    public InMemoryPresenceNetwork(TimeProvider? timeProvider = null) => _time = timeProvider ?? TimeProvider.System;

    /// <summary>Creates the transport a server's engine sends with.</summary>
    /// <param name="origin">The sending server.</param>
    /// <returns>The transport.</returns>
    public IPresenceTransport CreateTransport(ServerName origin)
    {
        if (origin.IsEmpty)
        {
            throw new ArgumentException("A server name is required.", nameof(origin));
        }

        return new Transport(this, origin);
    }

    /// <summary>Attaches a server's engine, so messages to that server reach it.</summary>
    /// <param name="server">The server.</param>
    /// <param name="engine">Its engine.</param>
    public void Attach(ServerName server, IPresenceEngine engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        _engines[server] = engine;
    }

    /// <summary>Makes sends to <paramref name="destination"/> vanish (the sender thinks they arrived).</summary>
    /// <param name="destination">The destination.</param>
    /// <param name="dropping">Whether to drop.</param>
    public void SetDropping(ServerName destination, bool dropping) => LinkTo(destination).Dropping = dropping;

    /// <summary>Makes sends to <paramref name="destination"/> fail with an exception, as an unreachable server would.</summary>
    /// <param name="destination">The destination.</param>
    /// <param name="failing">Whether to fail.</param>
    public void SetFailing(ServerName destination, bool failing) => LinkTo(destination).Failing = failing;

    /// <summary>Delays delivery to <paramref name="destination"/> (on the network's clock).</summary>
    /// <param name="destination">The destination.</param>
    /// <param name="delay">The delay; zero delivers at once.</param>
    public void SetDelay(ServerName destination, TimeSpan delay)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        LinkTo(destination).Delay = delay;
    }

    /// <summary>Gets how many messages and entries <paramref name="from"/> has handed to the network for <paramref name="to"/> (delivered or not).</summary>
    /// <param name="from">The sender.</param>
    /// <param name="to">The destination.</param>
    /// <returns>The message and entry counts.</returns>
    public (long Messages, long Entries) SentBetween(ServerName from, ServerName to)
        => _sent.TryGetValue((from, to), out var counts) ? (Interlocked.Read(ref counts.Messages), Interlocked.Read(ref counts.Entries)) : (0, 0);

    /// <summary>Gets how many messages <paramref name="from"/> has handed to the network in all.</summary>
    /// <param name="from">The sender.</param>
    /// <returns>The message count.</returns>
    public long MessagesSentBy(ServerName from) => _sent.Where(p => p.Key.From == from).Sum(p => Interlocked.Read(ref p.Value.Messages));

    private Link LinkTo(ServerName destination) => _links.GetOrAdd(destination, static _ => new Link());

    private async ValueTask DeliverAsync(ServerName origin, ServerName destination, PresenceMessage message, CancellationToken cancellationToken)
    {
        var counts = _sent.GetOrAdd((origin, destination), static _ => new Counts());
        Interlocked.Increment(ref counts.Messages);
        Interlocked.Add(ref counts.Entries, message.EntryCount);
        var link = LinkTo(destination);
        if (link.Failing)
        {
            throw new InvalidOperationException($"{destination} is unreachable (the in-memory network is set to fail it).");
        }

        if (link.Dropping)
        {
            return;
        }

        if (link.Delay > TimeSpan.Zero)
        {
            await Task.Delay(link.Delay, _time, cancellationToken).ConfigureAwait(false);
        }

        if (!_engines.TryGetValue(destination, out var engine))
        {
            throw new InvalidOperationException($"No engine is attached for {destination}.");
        }

        await engine.ReceiveAsync(origin, message, cancellationToken).ConfigureAwait(false);
    }

    private sealed class Link
    {
        public volatile bool Dropping;
        public volatile bool Failing;
        public TimeSpan Delay;
    }

    private sealed class Counts
    {
        public long Messages;
        public long Entries;
    }

    private sealed class Transport(InMemoryPresenceNetwork network, ServerName origin) : IPresenceTransport
    {
        public ValueTask SendAsync(ServerName destination, PresenceMessage message, CancellationToken cancellationToken)
        {
            ArgumentNullException.ThrowIfNull(message);
            return network.DeliverAsync(origin, destination, message, cancellationToken);
        }
    }
}
