namespace Presence;

/// <summary>
/// A user's presence state. The numeric order is the aggregation precedence across a user's devices:
/// <see cref="Busy"/> over <see cref="Online"/> over <see cref="Unavailable"/> over <see cref="Offline"/>.
/// </summary>
public enum PresenceState : byte
{
    /// <summary>No information is held: a remote user not heard from, or whose information went stale. Not the same as offline.</summary>
    Unknown = 0,

    /// <summary>Not connected, or explicitly hiding. Wire name <c>offline</c>.</summary>
    Offline = 1,

    /// <summary>Connected but idle or away. Wire name <c>unavailable</c>.</summary>
    Unavailable = 2,

    /// <summary>Connected and active. Wire name <c>online</c>.</summary>
    Online = 3,

    /// <summary>Online but busy (MSC3026; opt-in through the options). Wire name <c>org.matrix.msc3026.busy</c>.</summary>
    Busy = 4,
}

/// <summary>Wire names of <see cref="PresenceState"/> values, as the Matrix protocol spells them.</summary>
public static class PresenceStateNames
{
    /// <summary>The wire name of <see cref="PresenceState.Online"/>.</summary>
    public const string Online = "online";

    /// <summary>The wire name of <see cref="PresenceState.Unavailable"/>.</summary>
    public const string Unavailable = "unavailable";

    /// <summary>The wire name of <see cref="PresenceState.Offline"/>.</summary>
    public const string Offline = "offline";

    /// <summary>The wire name of <see cref="PresenceState.Busy"/> (MSC3026's unstable prefix).</summary>
    public const string Busy = "org.matrix.msc3026.busy";

    /// <summary>Gets the wire name of a state.</summary>
    /// <param name="state">A known state; <see cref="PresenceState.Unknown"/> has no wire name.</param>
    /// <returns>The wire name.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="state"/> is <see cref="PresenceState.Unknown"/> or not defined.</exception>
    public static string ToWireName(PresenceState state) => state switch
    {
        PresenceState.Online => Online,
        PresenceState.Unavailable => Unavailable,
        PresenceState.Offline => Offline,
        PresenceState.Busy => Busy,
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, "Only online, unavailable, offline and busy have wire names."),
    };

    /// <summary>Parses a wire name (case-sensitive, as the protocol is).</summary>
    /// <param name="name">The wire name.</param>
    /// <param name="state">The state when the method returns <see langword="true"/>.</param>
    /// <returns><see langword="true"/> when <paramref name="name"/> is a known state.</returns>
    public static bool TryParse(ReadOnlySpan<char> name, out PresenceState state)
    {
        state = name switch
        {
            Online => PresenceState.Online,
            Unavailable => PresenceState.Unavailable,
            Offline => PresenceState.Offline,
            Busy => PresenceState.Busy,
            _ => PresenceState.Unknown,
        };
        return state != PresenceState.Unknown;
    }
}
