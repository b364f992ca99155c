using System.Globalization;
using System.Text;
using CsCheck;

namespace Presence.Core.Tests.Interest;

/// <summary>
/// A run of inputs for <see cref="RoomCacheDriver"/>: membership changes, cache fills (the host asked and answering at
/// once, or asked now and answering later with what was true when asked), over a small universe and a small capacity.
/// </summary>
internal sealed record RoomCacheScenario(int Capacity, RoomCacheScenario.Op[] Ops)
{
    public static readonly ServerName Local = ServerName.Parse("example.org");

    /// <summary>Two local users, two of one remote server, one of another.</summary>
    public static readonly UserId[] Users =
    [
        UserId.Parse("@a:example.org"),
        UserId.Parse("@b:example.org"),
        UserId.Parse("@c:one.example"),
        UserId.Parse("@d:one.example"),
        UserId.Parse("@e:two.example"),
    ];

    public static readonly ServerName[] Servers = [Local, ServerName.Parse("one.example"), ServerName.Parse("two.example")];

    /// <summary>The last room is excluded.</summary>
    public static readonly string[] Rooms = ["!r0:example.org", "!r1:example.org", "!r2:one.example", "!big:example.org"];

    public const string Excluded = "!big:example.org";

    /// <summary>Large enough that nothing is ever evicted: at most 5 users × (1 + 3) + 3 rooms × (1 + 5) = 38.</summary>
    public const int Unbounded = 1_000;

    public override string ToString()
    {
        var text = new StringBuilder().Append(CultureInfo.InvariantCulture, $"capacity = {Capacity}, excluded = {Excluded}, {Ops.Length} steps:");
        for (int i = 0; i < Ops.Length; i++)
        {
            text.Append(CultureInfo.InvariantCulture, $"\n  {i,2}: {Ops[i]}");
        }

        return text.ToString();
    }

    public static string Name(int user) => Users[user].ToString();

    // ----- generators -----

    private static readonly Gen<int> User = Gen.Int[0, Users.Length - 1];

    private static readonly Gen<int> Room = Gen.Int[0, Rooms.Length - 1];

    /// <summary>Which held-back answer arrives when several are in flight (taken modulo their count).</summary>
    private static readonly Gen<int> Which = Gen.Int[0, 2];

    /// <summary>A capacity that often forces eviction, sometimes one that never does.</summary>
    private static readonly Gen<int> Capacities = Gen.Frequency((4, Gen.Int[1, 12]), (1, Gen.Const(Unbounded)));

    /// <summary>Scenarios of 1 to 50 steps.</summary>
    /// <param name="unannounced">Whether some fills skip <c>FetchingRooms</c>/<c>FetchingMembers</c> (the engine never does).</param>
    public static Gen<RoomCacheScenario> Generate(bool unannounced)
    {
        var announced = unannounced ? Gen.Bool : Gen.Const(true);
        var ops = Gen.Frequency(
            (5, Gen.Select(User, Room, static (u, r) => (Op)new Join(u, r))),
            (3, Gen.Select(User, Room, static (u, r) => (Op)new Leave(u, r))),
            (3, Gen.Select(User, announced, static (u, a) => (Op)new FillRooms(u, a))),
            (3, Gen.Select(Room, announced, static (r, a) => (Op)new FillMembers(r, a))),
            (2, User.Select(static u => (Op)new AskRooms(u))),
            (2, Gen.Select(User, Which, static (u, k) => (Op)new AnswerRooms(u, k))),
            (2, Room.Select(static r => (Op)new AskMembers(r))),
            (2, Gen.Select(Room, Which, static (r, k) => (Op)new AnswerMembers(r, k))));
        return Gen.Select(Capacities, ops.Array[1, 50], static (c, o) => new RoomCacheScenario(c, o));
    }

    // ----- inputs, printed the way a failing sequence shows them -----

    internal abstract record Op;

    /// <summary>The user joined the room; the cache is told (<c>Joined</c>).</summary>
    internal sealed record Join(int User, int Room) : Op
    {
        public override string ToString() => $"Join({Name(User)}, {Rooms[Room]})";
    }

    internal sealed record Leave(int User, int Room) : Op
    {
        public override string ToString() => $"Leave({Name(User)}, {Rooms[Room]})";
    }

    /// <summary>The host answers at once with the user's rooms as they are now (excluded room included).</summary>
    /// <param name="Announced">Whether <c>FetchingRooms</c> is called first, as the engine does.</param>
    internal sealed record FillRooms(int User, bool Announced) : Op
    {
        public override string ToString() => Announced ? $"FetchingRooms({Name(User)}) + CacheRooms(now)" : $"CacheRooms({Name(User)}, now) unannounced";
    }

    internal sealed record FillMembers(int Room, bool Announced) : Op
    {
        public override string ToString() => Announced ? $"FetchingMembers({Rooms[Room]}) + CacheMembers(now)" : $"CacheMembers({Rooms[Room]}, now) unannounced";
    }

    /// <summary><c>FetchingRooms</c>; the host's answer is what is true now, delivered by a later <see cref="AnswerRooms"/>.</summary>
    internal sealed record AskRooms(int User) : Op
    {
        public override string ToString() => $"FetchingRooms({Name(User)}), host answers with the rooms as of now";
    }

    /// <summary><c>CacheRooms</c> with a held-back answer (the <paramref name="Which"/>-th in flight, modulo their count).</summary>
    internal sealed record AnswerRooms(int User, int Which) : Op
    {
        public override string ToString() => $"CacheRooms({Name(User)}, held-back answer #{Which} mod those in flight)";
    }

    internal sealed record AskMembers(int Room) : Op
    {
        public override string ToString() => $"FetchingMembers({Rooms[Room]}), host answers with the members as of now";
    }

    internal sealed record AnswerMembers(int Room, int Which) : Op
    {
        public override string ToString() => $"CacheMembers({Rooms[Room]}, held-back answer #{Which} mod those in flight)";
    }
}
