using System.Globalization;
using System.Text;
using CsCheck;

namespace Presence.Core.Tests.Interest;

/// <summary>
/// A run of inputs for <see cref="MaySeeDriver"/>: rooms joined and left (one room excluded), visibilities, presence-list
/// requests and answers among local users, presence inputs, time, a re-opened feed and engine restarts.
/// </summary>
internal sealed record MaySeeScenario(MaySeeScenario.Op[] Ops)
{
    /// <summary>Three local users and one of another server; the first local user holds the watched feed.</summary>
    public static readonly UserId[] Users =
    [
        UserId.Parse("@a:example.org"),
        UserId.Parse("@b:example.org"),
        UserId.Parse("@c:example.org"),
        UserId.Parse("@r:remote.example"),
    ];

    public const int LocalUsers = 3;

    public const int Viewer = 0;

    /// <summary>The last room is in <see cref="PresenceOptions.ExcludedRooms"/> (the membership view still reports it).</summary>
    public static readonly string[] Rooms = ["!r0:example.org", "!r1:example.org", "!big:example.org"];

    public const string Excluded = "!big:example.org";

    private static readonly long Second = TimeSpan.TicksPerSecond;

    public override string ToString()
    {
        var text = new StringBuilder().Append(CultureInfo.InvariantCulture, $"feed of {Users[Viewer]}, {Excluded} excluded, {Ops.Length} steps:");
        for (int i = 0; i < Ops.Length; i++)
        {
            text.Append(CultureInfo.InvariantCulture, $"\n  {i,2}: {Ops[i]}");
        }

        return text.ToString();
    }

    private static string Name(int user) => Users[user].ToString();

    // ----- generators -----

    private static readonly Gen<int> AnyUser = Gen.Int[0, Users.Length - 1];

    private static readonly Gen<int> LocalUser = Gen.Int[0, LocalUsers - 1];

    /// <summary>Two different local users.</summary>
    private static readonly Gen<(int, int)> LocalPair = Gen.Select(LocalUser, Gen.Int[1, LocalUsers - 1], static (a, d) => (a, (a + d) % LocalUsers));

    private static readonly Gen<int> Room = Gen.Int[0, Rooms.Length - 1];

    private static readonly Gen<PresenceVisibility> Visibility = Gen.OneOf(PresenceVisibility.RoomMembers, PresenceVisibility.PresenceListOnly, PresenceVisibility.Nobody);

    private static readonly Gen<PresenceState> Settable = Gen.OneOf(PresenceState.Online, PresenceState.Unavailable, PresenceState.Offline);

    private static readonly Gen<string?> Status = Gen.OneOf<string?>(null, "lunch", "focus");

    private static readonly Gen<string> Device = Gen.OneOf("D0", "D1");

    /// <summary>Time steps around the sync timeout (30 s), the idle timeout (5 min) and eviction (10 min quiet).</summary>
    private static readonly Gen<long> Step = Gen.OneOf(
        1 * Second, 20 * Second, 31 * Second, 5 * 60 * Second, 11 * 60 * Second, 25 * 60 * Second);

    /// <summary>Scenarios of 1 to 40 steps.</summary>
    /// <param name="readSteps">Whether <see cref="ReadAll"/> steps are generated (for a driver that reads only then).</param>
    public static Gen<MaySeeScenario> Generate(bool readSteps = false)
    {
        var ops = new List<(int, IGen<Op>)>
        {
            (8, Gen.Select(AnyUser, Room, static (u, r) => (Op)new Join(u, r))),
            (3, Gen.Select(AnyUser, Room, static (u, r) => (Op)new Leave(u, r))),
            (4, Gen.Select(LocalUser, Visibility, static (u, v) => (Op)new SetVisibility(u, v))),
            (3, LocalPair.Select(static p => (Op)new ListAdd(p.Item1, p.Item2))),
            (4, Gen.Select(LocalPair, Gen.Bool, static (p, allow) => (Op)new ListAnswer(p.Item1, p.Item2, allow))),
            (1, LocalPair.Select(static p => (Op)new ListRemove(p.Item1, p.Item2))),
            (6, Gen.Select(LocalUser, Device, Settable, Status, static (u, d, s, m) => (Op)new SetPresence(u, d, s, m))),
            (2, Gen.Select(LocalUser, Device, static (u, d) => (Op)new Heartbeat(u, d))),
            (3, Step.Select(static t => (Op)new Advance(t))),
            (1, Gen.Const((Op)new Resubscribe())),
            (1, Gen.Const((Op)new Restart())),
        };
        if (readSteps)
        {
            ops.Add((4, Gen.Const((Op)new ReadAll())));
        }

        return Gen.Frequency([.. ops]).Array[1, 40].Select(static o => new MaySeeScenario(o));
    }

    // ----- inputs, printed the way a failing sequence shows them -----

    internal abstract record Op;

    /// <summary>The host adds the user to the room in its view, then tells the engine.</summary>
    internal sealed record Join(int User, int Room) : Op
    {
        public override string ToString() => $"Join({Name(User)}, {Rooms[Room]})";
    }

    internal sealed record Leave(int User, int Room) : Op
    {
        public override string ToString() => $"Leave({Name(User)}, {Rooms[Room]})";
    }

    internal sealed record SetVisibility(int User, PresenceVisibility Visibility) : Op
    {
        public override string ToString() => $"SetVisibility({Name(User)}, {Visibility})";
    }

    /// <summary><see cref="Owner"/> asks to watch <see cref="Target"/>.</summary>
    internal sealed record ListAdd(int Owner, int Target) : Op
    {
        public override string ToString() => $"AddToPresenceList(owner {Name(Owner)}, target {Name(Target)})";
    }

    /// <summary><see cref="Target"/> answers <see cref="Observer"/>'s request (an error when there is none).</summary>
    internal sealed record ListAnswer(int Target, int Observer, bool Allow) : Op
    {
        public override string ToString() => $"AnswerPresenceRequest(target {Name(Target)}, observer {Name(Observer)}, {(Allow ? "allow" : "deny")})";
    }

    internal sealed record ListRemove(int Owner, int Target) : Op
    {
        public override string ToString() => $"RemoveFromPresenceList(owner {Name(Owner)}, target {Name(Target)})";
    }

    internal sealed record SetPresence(int User, string Device, PresenceState State, string? Status) : Op
    {
        public override string ToString() => $"SetPresence({Name(User)}, {Device}, {State}, {(Status is null ? "no status" : $"\"{Status}\"")})";
    }

    internal sealed record Heartbeat(int User, string Device) : Op
    {
        public override string ToString() => $"Heartbeat({Name(User)}, {Device})";
    }

    internal sealed record Advance(long By) : Op
    {
        public override string ToString() => $"Advance({TimeSpan.FromTicks(By)})";
    }

    /// <summary>The feed is closed and opened again (its first batch is checked).</summary>
    internal sealed record Resubscribe : Op
    {
        public override string ToString() => $"Resubscribe({Name(Viewer)})";
    }

    /// <summary>Every ordered pair is read (when the driver does not read after every step).</summary>
    internal sealed record ReadAll : Op
    {
        public override string ToString() => "Read every ordered pair";
    }

    /// <summary>The engine is disposed and a new one started on the same stores, view and clock; the feed is opened again.</summary>
    internal sealed record Restart : Op
    {
        public override string ToString() => "Restart the engine (same stores and view)";
    }
}
