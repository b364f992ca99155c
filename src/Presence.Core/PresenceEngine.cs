using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Presence.Internal;

namespace Presence;

/// <summary>Creates presence engines without a dependency-injection container.</summary>
public static class PresenceEngine
{
    /// <summary>Creates an engine. Call <see cref="IPresenceEngine.StartAsync"/> before using it and dispose it when done.</summary>
    /// <param name="options">The options; validated, then copied (later changes have no effect).</param>
    /// <param name="membership">The host's view of who shares rooms with whom.</param>
    /// <param name="store">Where presence is persisted; a new <see cref="InMemoryPresenceStore"/> when <see langword="null"/>.</param>
    /// <param name="timeProvider">The clock and timers; <see cref="TimeProvider.System"/> when <see langword="null"/>.</param>
    /// <param name="loggerFactory">Where logs go; nowhere when <see langword="null"/>.</param>
    /// <param name="meterFactory">Creates the engine's meter; a meter of its own when <see langword="null"/>.</param>
    /// <param name="transport">How messages reach other servers; presence stays on this server when <see langword="null"/>.</param>
    /// <param name="listStore">Where presence lists are persisted; a new <see cref="InMemoryPresenceListStore"/> when <see langword="null"/>.</param>
    /// <param name="peerSubscriptionStore">Where the subscriptions of other servers to our users are persisted; a new <see cref="InMemoryPeerSubscriptionStore"/> when <see langword="null"/>.</param>
    /// <returns>The engine, not yet started.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> or <paramref name="membership"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">An option is invalid; the message names each one at fault.</exception>
    public static IPresenceEngine Create(
        PresenceOptions options,
        IMembershipView membership,
        IPresenceStore? store = null,
        TimeProvider? timeProvider = null,
        ILoggerFactory? loggerFactory = null,
        IMeterFactory? meterFactory = null,
        IPresenceTransport? transport = null,
        IPresenceListStore? listStore = null,
        IPeerSubscriptionStore? peerSubscriptionStore = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(membership);
        PresenceOptionsValidator.ThrowIfInvalid(options);
        return new DefaultPresenceEngine(
            options.Clone(),
            membership,
            store ?? new InMemoryPresenceStore(),
            timeProvider ?? TimeProvider.System,
            loggerFactory ?? NullLoggerFactory.Instance,
            meterFactory,
            transport,
            listStore ?? new InMemoryPresenceListStore(),
            peerSubscriptionStore ?? new InMemoryPeerSubscriptionStore());
    }

    /// <summary>
    /// Reads the status of an engine this factory created: whether it runs, whether its store and peers are failing, and
    /// its queue depths. Cheap and never waits for the host; a health check calls it.
    /// </summary>
    /// <param name="engine">The engine.</param>
    /// <returns>The status, or <see langword="null"/> when <paramref name="engine"/> was not created by <see cref="Create"/> (a decorator or a test double).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="engine"/> is <see langword="null"/>.</exception>
    public static PresenceEngineStatus? GetStatus(IPresenceEngine engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        return (engine as DefaultPresenceEngine)?.GetStatus();
    }
}
