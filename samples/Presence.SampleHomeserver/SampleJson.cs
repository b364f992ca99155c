using System.Text.Json;
using System.Text.Json.Serialization;

namespace Presence.Sample;

internal sealed class SyncResponseDto
{
    [JsonPropertyName("next_batch")]
    public string NextBatch { get; set; } = "0";

    [JsonPropertyName("presence")]
    public EventsDto Presence { get; set; } = new();

    [JsonPropertyName("account_data")]
    public EventsDto AccountData { get; set; } = new();

    [JsonPropertyName("to_device")]
    public EventsDto ToDevice { get; set; } = new();

    [JsonPropertyName("rooms")]
    public RoomsDto Rooms { get; set; } = new();
}

internal sealed class EventsDto
{
    [JsonPropertyName("events")]
    public List<JsonElement> Events { get; set; } = [];
}

internal sealed class RoomsDto
{
    [JsonPropertyName("join")]
    public Dictionary<string, JsonElement> Join { get; set; } = [];

    [JsonPropertyName("invite")]
    public Dictionary<string, JsonElement> Invite { get; set; } = [];

    [JsonPropertyName("leave")]
    public Dictionary<string, JsonElement> Leave { get; set; } = [];
}

internal sealed class ListChangeDto
{
    [JsonPropertyName("invite")]
    public List<string>? Invite { get; set; }

    [JsonPropertyName("drop")]
    public List<string>? Drop { get; set; }
}

internal sealed class RequestsDto
{
    [JsonPropertyName("requests")]
    public List<ListEntryDto> Requests { get; set; } = [];
}

internal sealed class ListEntryDto
{
    [JsonPropertyName("observer_user")]
    public string? ObserverUser { get; set; }

    [JsonPropertyName("observed_user")]
    public string? ObservedUser { get; set; }

    [JsonPropertyName("state")]
    public string? State { get; set; }

    [JsonPropertyName("presence")]
    public JsonElement? Presence { get; set; }
}

internal sealed class AnswerDto
{
    [JsonPropertyName("allow")]
    public bool? Allow { get; set; }
}

internal sealed class PollingDto
{
    [JsonPropertyName("polling")]
    public bool? Polling { get; set; }
}

internal sealed class FederationAckDto
{
    [JsonPropertyName("pdus")]
    public Dictionary<string, JsonElement> Pdus { get; set; } = [];
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, MaxDepth = 16)]
[JsonSerializable(typeof(SyncResponseDto))]
[JsonSerializable(typeof(ListChangeDto))]
[JsonSerializable(typeof(RequestsDto))]
[JsonSerializable(typeof(List<ListEntryDto>))]
[JsonSerializable(typeof(AnswerDto))]
[JsonSerializable(typeof(PollingDto))]
[JsonSerializable(typeof(FederationAckDto))]
internal sealed partial class SampleJsonContext : JsonSerializerContext
{
}
