#include "task_thread.h"

#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>

#include "group_errors.h"

namespace pairloss {

struct TaskThread::Queue {
  std::mutex mutex;
  std::condition_variable cv;
  std::deque<std::function<void()>> tasks;
  bool stopping = false;
};

void TaskThread::loop(std::shared_ptr<Queue> q) {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(q->mutex);
      q->cv.wait(lock, [&] { return !q->tasks.empty() || q->stopping; });
      if (q->tasks.empty()) return;
      task = std::move(q->tasks.front());
      q->tasks.pop_front();
    }
    try {
      task();
    } catch (...) {
      // Tasks report their own errors; nothing may escape the thread.
    }
    // Destroying the task here may release the last owner of this object.
    task = nullptr;
  }
}

TaskThread::TaskThread() : queue_(std::make_shared<Queue>()) {
  thread_ = std::thread(&TaskThread::loop, queue_);
  id_ = thread_.get_id();
}

TaskThread::~TaskThread() {
  stop();
  if (thread_.joinable()) {
    if (on_thread()) {
      thread_.detach();  // the thread ends after this task, holding the queue
    } else {
      thread_.join();
    }
  }
}

void TaskThread::submit(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(queue_->mutex);
    if (queue_->stopping) throw GroupError("process group has been destroyed");
    queue_->tasks.push_back(std::move(task));
  }
  queue_->cv.notify_one();
}

void TaskThread::run(const std::function<void()>& task) {
  if (on_thread()) {
    task();
    return;
  }
  std::promise<void> done;
  auto future = done.get_future();
  submit([&task, &done] {
    try {
      task();
      done.set_value();
    } catch (...) {
      done.set_exception(std::current_exception());
    }
  });
  future.get();
}

bool TaskThread::on_thread() const { return std::this_thread::get_id() == id_; }

void TaskThread::stop() {
  {
    std::lock_guard<std::mutex> lock(queue_->mutex);
    queue_->stopping = true;
  }
  queue_->cv.notify_all();
}

void TaskThread::join() {
  stop();
  if (!on_thread() && thread_.joinable()) thread_.join();
}

}  // namespace pairloss
