// The mysql output of a build without libmariadb: -o mysql://... says so.
#include <stdexcept>

#include "export/mysql_writer.hpp"

namespace etcpipe {

std::unique_ptr<FlowSink> open_mysql(const MysqlUri&, const std::string& name, const std::string&) {
  throw std::runtime_error(
      name +
      ": this etcpipe was built without the MariaDB client (install libmariadb-dev and "
      "rebuild)");
}

}  // namespace etcpipe
