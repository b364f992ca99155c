using System.Globalization;
using System.Text;
using CsCheck;

namespace Presence.Core.Tests.Core;

/// <summary>A run of inputs for <see cref="UserTableDriver"/>, and the generators that make them.</summary>
internal sealed record UserTableScenario(int MaxDevices, UserTableScenario.Op[] Ops)
{
    public const int UserCount = 3;

    private const long Tick = 1;
    private static readonly long Second = TimeSpan.TicksPerSecond;

    public override string ToString()
    {
        var text = new StringBuilder().Append(CultureInfo.InvariantCulture, $"MaxDevicesPerUser = {MaxDevices}, {Ops.Length} steps:");
        for (int i = 0; i < Ops.Length; i++)
        {
            text.Append(CultureInfo.InvariantCulture, $"\n  {i,2}: {Ops[i]}");
        }

        return text.ToString();
    }

    /// <summary>A duration in clock ticks, readably: "5m", "30s - 1 tick", "1m12s + 250 ticks".</summary>
    public static string Format(long ticks)
    {
        long seconds = (long)Math.Round((double)ticks / Second);
        long rest = ticks - (seconds * Second);
        string whole = seconds switch
        {
            0 => "0",
            _ when seconds % 3600 == 0 => $"{seconds / 3600}h",
            _ when seconds % 60 == 0 => $"{seconds / 60}m",
            >= 60 => $"{seconds / 60}m{seconds % 60}s",
            _ => $"{seconds}s",
        };
        return rest switch
        {
            0 => whole,
            1 => $"{whole} + 1 tick",
            -1 => $"{whole} - 1 tick",
            > 0 => $"{whole} + {rest} ticks",
            _ => $"{whole} - {-rest} ticks",
        };
    }

    // ----- generators -----

    /// <summary>Time steps: often exactly on an edge of a rule (30 s, 60 s, 5 min, 1 h) or one tick either side.</summary>
    private static readonly Gen<long> Step = Gen.Frequency(
        (3, Gen.OneOf(
            0L, Tick, 10 * Second, 20 * Second,
            (30 * Second) - Tick, 30 * Second, (30 * Second) + Tick,
            (60 * Second) - Tick, 60 * Second, (60 * Second) + Tick,
            (300 * Second) - Tick, 300 * Second, (300 * Second) + Tick,
            (3600 * Second) - Tick, 3600 * Second, (3600 * Second) + Tick)),
        (2, Gen.Long[0, 90 * Second]),
        (1, Gen.Long[0, 2 * 3600 * Second]));

    /// <summary>Spans during which the clients keep syncing: long enough for currently_active and the idle timeout to lapse.</summary>
    private static readonly Gen<long> SyncingSpan = Gen.Frequency(
        (2, Gen.OneOf(
            (60 * Second) - Tick, 60 * Second, (60 * Second) + Tick, 2 * 60 * Second,
            (300 * Second) - Tick, 300 * Second, (300 * Second) + Tick, 4 * 60 * Second)),
        (1, Gen.Long[0, 10 * 60 * Second]));

    private static readonly Gen<long> SyncEvery = Gen.OneOf(10 * Second, 20 * Second, (30 * Second) - Tick);

    private static readonly Gen<long> IdleFor = Gen.Frequency(
        (2, Gen.OneOf(0L, Tick, 30 * Second, (60 * Second) - Tick, 60 * Second, (60 * Second) + Tick, (300 * Second) - Tick, 300 * Second, (300 * Second) + Tick)),
        (1, Gen.Long[0, 600 * Second]));

    private static readonly Gen<PresenceState> Settable = Gen.OneOf(PresenceState.Online, PresenceState.Unavailable, PresenceState.Offline, PresenceState.Busy);

    private static readonly Gen<PresenceState?> SyncSetPresence = Gen.Frequency(
        (4, Gen.Const(default(PresenceState?))),
        (1, Settable.Select(static s => (PresenceState?)s)));

    private static readonly Gen<DeviceKinds> Kind = Gen.OneOf(DeviceKinds.Standard, DeviceKinds.Mobile, DeviceKinds.Web, DeviceKinds.Limited);

    private static readonly Gen<string?> Status = Gen.OneOf<string?>(null, "lunch", "focus");

    private static readonly Gen<int> UserIndex = Gen.Int[0, UserCount - 1];

    private static readonly Gen<string> DeviceId = Gen.OneOf("D0", "D1", "D2");

    /// <summary>Scenarios of 1 to 60 steps.</summary>
    /// <param name="lateTimer">Whether the timer may run late, so that inputs and reads can arrive with deadlines overdue.</param>
    /// <param name="maxDevices">The device cap, or null for the default (64, never reached here).</param>
    public static Gen<UserTableScenario> Generate(bool lateTimer, Gen<int>? maxDevices = null)
    {
        var ops = new List<(int, IGen<Op>)>
        {
            (6, Gen.Select(UserIndex, DeviceId, SyncSetPresence, static (u, d, s) => (Op)new Heartbeat(u, d, s))),
            (3, Gen.Select(UserIndex, DeviceId, SyncSetPresence, static (u, d, s) => (Op)new OpenSync(u, d, s))),
            (3, Gen.Select(UserIndex, DeviceId, static (u, d) => (Op)new CloseSync(u, d))),
            (3, Gen.Select(UserIndex, DeviceId, static (u, d) => (Op)new Activity(u, d))),
            (2, Gen.Select(UserIndex, DeviceId, IdleFor, static (u, d, n) => (Op)new Idle(u, d, n))),
            (1, Gen.Select(UserIndex, DeviceId, Kind, static (u, d, k) => (Op)new SetKind(u, d, k))),
            (1, Gen.Select(UserIndex, DeviceId, static (u, d) => (Op)new Disconnect(u, d))),
            (2, Gen.Select(UserIndex, DeviceId, Settable, Status, static (u, d, s, m) => (Op)new SetPresence(u, d, s, m))),
            (6, Step.Select(static t => (Op)new Advance(t, Late: false))),
            (2, Gen.Select(SyncingSpan, SyncEvery, static (t, every) => (Op)new AdvanceSyncing(t, every))),
        };
        if (lateTimer)
        {
            ops.Add((3, Step.Select(static t => (Op)new Advance(t, Late: true))));
            ops.Add((2, UserIndex.Select(static u => (Op)new Read(u))));
        }

        return Gen.Select(maxDevices ?? Gen.Const(PresenceOptions.DefaultMaxDevicesPerUser), Gen.Frequency([.. ops]).Array[1, 60], static (m, o) => new UserTableScenario(m, o));
    }

    // ----- inputs, printed the way a failing sequence shows them -----

    internal abstract record Op;

    /// <summary>A sync of the device, with its <c>set_presence</c> if any.</summary>
    internal sealed record Heartbeat(int User, string Device, PresenceState? SetPresence) : Op
    {
        public override string ToString() => $"Heartbeat(u{User}, {Device}{(SetPresence is { } s ? $", set_presence: {s}" : string.Empty)})";
    }

    /// <summary>A sync opens on the device (the engine's OpenSync), with its <c>set_presence</c> if any.</summary>
    internal sealed record OpenSync(int User, string Device, PresenceState? SetPresence) : Op
    {
        public override string ToString() => $"OpenSync(u{User}, {Device}{(SetPresence is { } s ? $", set_presence: {s}" : string.Empty)})";
    }

    /// <summary>A sync of the device closes (its scope is disposed); nothing happens when none is open.</summary>
    internal sealed record CloseSync(int User, string Device) : Op
    {
        public override string ToString() => $"CloseSync(u{User}, {Device})";
    }

    /// <summary>The user acted on the device (the engine's CancelIdle is this same call).</summary>
    internal sealed record Activity(int User, string Device) : Op
    {
        public override string ToString() => $"Activity(u{User}, {Device})";
    }

    internal sealed record Idle(int User, string Device, long For) : Op
    {
        public override string ToString() => $"Idle(u{User}, {Device}, for {Format(For)})";
    }

    internal sealed record SetKind(int User, string Device, DeviceKinds Kind) : Op
    {
        public override string ToString() => $"SetKind(u{User}, {Device}, {Kind})";
    }

    internal sealed record Disconnect(int User, string Device) : Op
    {
        public override string ToString() => $"Disconnect(u{User}, {Device})";
    }

    internal sealed record SetPresence(int User, string Device, PresenceState State, string? Status) : Op
    {
        public override string ToString() => $"SetPresence(u{User}, {Device}, {State}, {(Status is null ? "no status" : $"\"{Status}\"")})";
    }

    /// <summary>A read of the user's presence (what GetPresenceAsync does), applying anything due first.</summary>
    internal sealed record Read(int User) : Op
    {
        public override string ToString() => $"Read(u{User})";
    }

    /// <summary>Time passes with no input. When <paramref name="Late"/>, the timer fires only after the next step.</summary>
    internal sealed record Advance(long By, bool Late) : Op
    {
        public override string ToString() => Late ? $"Advance({Format(By)}), the timer runs late" : $"Advance({Format(By)})";
    }

    /// <summary>Time passes while every connected device syncs (heartbeats) every <paramref name="Every"/>.</summary>
    internal sealed record AdvanceSyncing(long By, long Every) : Op
    {
        public override string ToString() => $"Advance({Format(By)}) while every connected device syncs every {Format(Every)}";
    }
}
