namespace Presence.Minimal;

/// <summary>The membership view: rooms from configuration (<c>"Rooms": [{"Id": "!team:localhost", "Members": ["@alice:localhost", ...]}]</c>). A homeserver answers from its own room state.</summary>
internal sealed class ConfiguredRooms(IConfiguration configuration) : IMembershipView
{
    private readonly Dictionary<string, UserId[]> _rooms = configuration.GetSection("Rooms").GetChildren()
        .ToDictionary(room => room["Id"] ?? string.Empty, room => room.GetSection("Members").GetChildren().Select(member => UserId.Parse(member.Value ?? string.Empty)).ToArray(), StringComparer.Ordinal);

    public ValueTask<IReadOnlyCollection<string>> GetRoomsOfUserAsync(UserId user, CancellationToken cancellationToken) =>
        ValueTask.FromResult<IReadOnlyCollection<string>>([.. _rooms.Where(room => room.Value.Contains(user)).Select(room => room.Key)]);

    public ValueTask<IReadOnlyCollection<UserId>> GetMembersOfRoomAsync(string roomId, CancellationToken cancellationToken) =>
        ValueTask.FromResult<IReadOnlyCollection<UserId>>(_rooms.TryGetValue(roomId, out var members) ? members : []);
}
