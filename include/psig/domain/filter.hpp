#pragma once
// Subscription payload filters (DESIGN §2): a JSON object over dotted paths of the envelope,
//   {"data.amount": {"$gte": 100}, "data.currency": "KRW", "$or": [{...}, {...}]}
// Operators: $eq $ne $gt $gte $lt $lte $in $nin $exists $prefix $and $or $not.
// A literal (non-object, or an object with no '$' key) means $eq. Parsed once at creation so a
// bad filter is a 400 then, never an error at delivery.
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace psig::domain {

struct filter_error {
  std::string path;     // where in the filter, e.g. "data.amount.$gte" or "$or[1]"
  std::string message;  // e.g. "$gte needs a number or a string"
};

class filter {
 public:
  struct node;  // the parsed expression

  // Limits: depth <= 16, <= 256 nodes, <= 1024 values in $in/$nin, paths <= 255 bytes of
  // 1-16 non-empty tokens. An empty object matches everything.
  static std::optional<filter_error> parse(const nlohmann::json& spec, filter& out);

  bool matches(const nlohmann::json& envelope) const;

  filter();
  ~filter();
  filter(filter&&) noexcept;
  filter& operator=(filter&&) noexcept;

 private:
  std::shared_ptr<const node> root_;
};

}  // namespace psig::domain
